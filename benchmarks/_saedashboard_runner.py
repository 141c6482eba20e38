"""Build SAEDashboard's feature data for one SAE on given token windows, and time it.

Run by ``bench_stats_saedashboard.py`` with the interpreter of a separate venv that has
``sae-dashboard`` installed (it pins transformers < 4.57 and transformer-lens 2.x, so it cannot
share our venv). It imports nothing from saewidgets. The embedded model is not one of
TransformerLens's named models, so its ``HookedTransformerConfig`` is written out here from the
Hugging Face config and the weights go through TransformerLens's own Llama converter.

    .venv-saedash/bin/python benchmarks/_saedashboard_runner.py --model-dir DIR --sae-dir DIR \
        --tokens windows.npy --features 4608 --out result.json
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import tempfile
import time
from pathlib import Path

IMPORT_START = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sae_dashboard.data_writing_fns import save_feature_centric_vis  # noqa: E402
from sae_dashboard.sae_vis_data import SaeVisConfig  # noqa: E402
from sae_dashboard.sae_vis_runner import SaeVisRunner  # noqa: E402
from sae_lens import SAE, HookedSAETransformer  # noqa: E402
from transformer_lens import HookedTransformerConfig  # noqa: E402
from transformer_lens.pretrained.weight_conversions.llama import (  # noqa: E402
    convert_llama_weights,
)
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - IMPORT_START


def load_tokenizer(model_dir: Path):
    """The folder's tokenizer for transformers 4.56: its ``tokenizer_config.json`` names a
    transformers-5 class, so a copy names the fast tokenizer class instead. (TransformerLens
    reloads the tokenizer by path, so it has to load from a folder.)"""
    folder = Path(tempfile.mkdtemp(prefix="saedash-tokenizer-"))
    shutil.copy(model_dir / "tokenizer.json", folder / "tokenizer.json")
    config = json.loads((model_dir / "tokenizer_config.json").read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return AutoTokenizer.from_pretrained(folder)


def load_model(model_dir: Path) -> HookedSAETransformer:
    """The Llama-architecture model in ``model_dir`` as a TransformerLens model."""
    raw = json.loads((model_dir / "config.json").read_text())
    # The folder was written by transformers 5, which nests rope_theta; 4.56 reads it flat.
    rope = raw.get("rope_parameters") or {}
    hf_config = LlamaConfig.from_pretrained(model_dir)
    if "rope_theta" in rope:
        hf_config.rope_theta = rope["rope_theta"]
    hf = LlamaForCausalLM.from_pretrained(model_dir, config=hf_config, torch_dtype=torch.float32)
    cfg = HookedTransformerConfig(
        d_model=hf_config.hidden_size,
        d_head=hf_config.head_dim,
        n_heads=hf_config.num_attention_heads,
        n_key_value_heads=hf_config.num_key_value_heads,
        d_mlp=hf_config.intermediate_size,
        n_layers=hf_config.num_hidden_layers,
        n_ctx=2048,
        d_vocab=hf_config.vocab_size,
        act_fn="silu",
        normalization_type="RMS",
        eps=hf_config.rms_norm_eps,
        positional_embedding_type="rotary",
        rotary_dim=hf_config.head_dim,
        rotary_base=float(hf_config.rope_theta),
        rotary_adjacent_pairs=False,
        gated_mlp=True,
        final_rms=True,
        original_architecture="LlamaForCausalLM",
        tokenizer_prepends_bos=False,
        default_prepend_bos=False,
        dtype=torch.float32,
        device="cpu",
    )
    model = HookedSAETransformer(cfg, tokenizer=load_tokenizer(model_dir))
    # Folding the RMS weights into the next matrices leaves the residual stream unchanged (so
    # the SAE sees what it was trained on) and puts the final norm's scale into W_U, as
    # VocabProj does; centering would shift the residual stream, so it stays off.
    model.load_and_process_state_dict(
        convert_llama_weights(hf, cfg),
        fold_ln=True,
        center_writing_weights=False,
        center_unembed=False,
        fold_value_biases=False,
    )
    model.eval()
    return model


def summary(data, features: list[int]) -> dict[str, list]:
    """What we compare against saewidgets, read back from SAEDashboard's own output: the
    strongest example's (window, position) and activation, the density in the histogram title
    (over all positions, ignored ones included) and the top logit tokens."""
    out: dict[str, list] = {"max": [], "top_window": [], "top_position": [], "density": []}
    out["vocab_top"] = []
    before = data.cfg.feature_centric_layout.seq_cfg.buffer[0]
    for f in features:
        fd = data.feature_data_dict[f]
        # A feature that never fires has an empty histogram (no title) but still lists
        # all-zero "top" sequences, so the title decides.
        found = re.search(r"DENSITY = ([0-9.]+)%", fd.acts_histogram_data.title or "")
        groups = fd.sequence_data.seq_group_data
        top = groups[0].seq_data if found and groups else []
        out["density"].append(float(found.group(1)) / 100 if found else 0.0)
        # the example's own token sits `before` tokens into its window (not the window's max:
        # a neighbour can be stronger yet sit where no example may be centred)
        out["max"].append(float(top[0].feat_acts[before]) if top else 0.0)
        out["top_window"].append(int(top[0].original_index) if top else -1)
        out["top_position"].append(int(top[0].qualifying_token_index) if top else -1)
        out["vocab_top"].append([int(t) for t in fd.logits_table_data.top_token_ids])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--sae-dir", type=Path, required=True)
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--features", type=int, default=4608, help="the first N features")
    parser.add_argument("--ignore-tokens", type=int, nargs="*", default=[])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--html", type=Path, default=None)
    parser.add_argument("--html-features", type=int, default=40)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    t = time.perf_counter()
    model = load_model(args.model_dir)
    sae = SAE.load_from_disk(str(args.sae_dir), device="cpu")
    # SaeVisRunner folds decoder norms into the encoder, which SAELens refuses for a TopK SAE
    # that does not rescale by them. Our decoder rows are unit norm (checked here), so folding
    # would change nothing: skip it rather than change the SAE.
    norms = sae.W_dec.norm(dim=1)
    if not torch.allclose(norms, torch.ones_like(norms), atol=5e-3):
        raise SystemExit(f"decoder rows are not unit norm ({norms.min():.4f}..{norms.max():.4f})")
    sae.fold_W_dec_norm = lambda: None
    load_seconds = time.perf_counter() - t
    tokens = torch.from_numpy(np.load(args.tokens).astype(np.int64))
    features = list(range(args.features))
    cfg = SaeVisConfig(
        hook_point=sae.cfg.metadata.hook_name,
        features=features,
        minibatch_size_features=256,
        minibatch_size_tokens=64,
        device="cpu",
        dtype="float32",
        ignore_tokens=set(args.ignore_tokens),
        ignore_positions=[0],
        cache_dir=args.cache_dir,
    )
    t = time.perf_counter()
    data = SaeVisRunner(cfg).run(encoder=sae, model=model, tokens=tokens)
    run_seconds = time.perf_counter() - t
    result = {
        "import_s": IMPORT_SECONDS,
        "load_s": load_seconds,
        "run_s": run_seconds,
        "features": len(features),
        "tokens": int(tokens.numel()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    result.update(summary(data, features))  # before the page: writing it edits the titles
    if args.html is not None:
        t = time.perf_counter()
        save_feature_centric_vis(data, args.html, include_only=features[: args.html_features])
        result["html_s"] = time.perf_counter() - t
        result["html_bytes"] = args.html.stat().st_size
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
