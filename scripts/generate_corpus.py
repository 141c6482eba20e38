"""Generate the general-English part of the default corpus with the embedded instruct model.

Resumable: prompts are numbered deterministically and written in chunks; a chunk file that
exists is skipped, so the job can be stopped and restarted at any time.

    python scripts/generate_corpus.py --chunks 140 --threads 2
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
import time
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent.parent / "saewidgets" / "data" / "generated"
CHUNK = 32  # prompts per chunk (one batched generate call)

FORMS = [
    "Write a short story about {t}.",
    "Write a news report about {t}.",
    "Write a letter to a friend about {t}.",
    "Write a dialogue between two people talking about {t}.",
    "Explain {t} to a ten-year-old.",
    "Write an encyclopedia-style paragraph about {t}.",
    "Write a diary entry by someone dealing with {t}.",
    "Write a persuasive essay about {t}.",
    "Write an email to a colleague about {t}.",
    "Write a blog post giving practical advice about {t}.",
    "Write a short poem about {t}.",
    "Describe the history of {t}.",
    "Write a product review related to {t}.",
    "Write a speech for a town meeting about {t}.",
    "Write five questions and answers about {t}.",
    "Write a scene from a play involving {t}.",
    "Summarize the main arguments for and against {t}.",
    "Write step-by-step instructions related to {t}.",
    "Write a science explainer about {t}.",
    "Write a travel diary entry that mentions {t}.",
    "Write a job advertisement connected to {t}.",
    "Write a thank-you note that mentions {t}.",
    "Write a radio interview transcript about {t}.",
    "Write a fairy tale involving {t}.",
    "Write a complaint letter about {t}.",
    "Describe a typical day for someone working on {t}.",
    "Write a museum exhibit description about {t}.",
    "Write a short mystery story involving {t}.",
    "Write a lesson plan for teaching {t}.",
    "Write a newspaper opinion column about {t}.",
]

TOPICS = [
    "volcanoes",
    "a lost dog",
    "the rise of electric cars",
    "learning to play the piano",
    "a village festival",
    "ocean tides",
    "a broken refrigerator",
    "the first day of school",
    "honeybees",
    "a storm at sea",
    "saving money",
    "the moon landing",
    "a new neighbour",
    "recycling plastic",
    "medieval castles",
    "a football final",
    "photosynthesis",
    "a job interview",
    "climate change",
    "an old library",
    "the invention of the printing press",
    "a birthday surprise",
    "vaccines",
    "a mountain hike",
    "black holes",
    "a family dinner",
    "the Roman Empire",
    "a power outage",
    "learning a new language",
    "a farmers market",
    "the human heart",
    "a train journey",
    "ancient Egypt",
    "a school science fair",
    "earthquakes",
    "a small bakery",
    "the water cycle",
    "a missing wallet",
    "jazz music",
    "a hospital night shift",
    "the stock market",
    "a snowy winter morning",
    "dinosaurs",
    "a city park",
    "sleep and dreams",
    "a chess tournament",
    "the printing of money",
    "a garden in spring",
    "solar panels",
    "a wedding",
    "the Industrial Revolution",
    "a traffic jam",
    "coral reefs",
    "a lighthouse keeper",
    "the immune system",
    "a bicycle repair",
    "the French Revolution",
    "a rainy weekend",
    "artificial intelligence",
    "a flooded river",
    "the history of tea",
    "a lost passport",
    "wolves",
    "a kitchen fire",
    "Mars exploration",
    "a grandmother's recipe",
    "the Great Wall of China",
    "public libraries",
    "a marathon",
    "mushrooms",
    "a noisy apartment",
    "the telephone",
    "a desert caravan",
    "antibiotics",
    "a children's theatre",
    "glaciers",
    "a startup company",
    "the Olympic Games",
    "a haunted house",
    "birds migrating south",
    "a long-distance friendship",
    "bread baking",
    "the Renaissance",
    "a city bus driver",
    "rainforests",
    "a scientific discovery",
    "a village school",
    "nuclear energy",
    "a summer camp",
    "the internet",
    "elephants",
    "a train station at midnight",
    "healthy eating",
    "the Silk Road",
    "a neighbourhood cat",
    "space telescopes",
    "a school election",
    "the human brain",
    "a fishing trip",
    "the history of money",
    "a surprise inheritance",
    "wind turbines",
    "a street musician",
    "the Amazon river",
    "a night at the museum",
    "volunteering",
    "a broken phone",
    "ancient Greece",
    "a spelling bee",
    "the migration of salmon",
    "a small island",
    "the history of medicine",
    "a hot air balloon",
    "a new puppy",
    "the periodic table",
    "a community garden",
    "a lost letter",
    "the Arctic",
    "a cooking competition",
    "a detective's first case",
    "the history of flight",
    "a snow day",
    "the printing press",
    "a quiet lake",
    "an online course",
    "the solar system",
    "a retired teacher",
    "a bridge collapse",
    "knitting",
    "the history of the bicycle",
    "a school trip to the zoo",
    "a cup of coffee",
    "democracy",
    "a robot helper",
    "a forest fire",
    "shipwrecks",
    "a music festival",
    "the tides of history",
    "a city at night",
    "owls",
    "a football coach",
]

SYSTEM = "You are a helpful assistant who writes clear, natural English."


def prompts(seed: int = 0) -> list[str]:
    pairs = [f.format(t=t) for f, t in itertools.product(FORMS, TOPICS)]
    random.Random(seed).shuffle(pairs)
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--group", type=int, default=3, help="chunks per generate call")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from saewidgets.model.embedded import embedded_dir

    path = embedded_dir()
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(args.device).eval()
    all_prompts = prompts()
    OUT.mkdir(parents=True, exist_ok=True)
    todo = [
        c
        for c in range(args.start, args.start + args.chunks)
        if c * CHUNK < len(all_prompts) and not (OUT / f"chunk-{c:05d}.jsonl.gz").exists()
    ]
    # Several chunks share one generate call: a wider batch uses the CPU better.
    for first in range(0, len(todo), args.group):
        group = todo[first : first + args.group]
        batch = [p for c in group for p in all_prompts[c * CHUNK : (c + 1) * CHUNK]]
        texts = [
            tok.apply_chat_template(
                [{"role": "system", "content": SYSTEM}, {"role": "user", "content": p}],
                tokenize=False,
                add_generation_prompt=True,
            )
            for p in batch
        ]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(args.device)
        torch.manual_seed(group[0])
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=args.max_new_tokens,
                do_sample=True,
                temperature=0.8,
                top_p=0.95,
                repetition_penalty=1.1,
                pad_token_id=tok.pad_token_id,
            )
        new = out[:, enc["input_ids"].shape[1] :]
        n_tokens = int((new != tok.pad_token_id).sum())
        for i, chunk in enumerate(group):
            rows = [
                {"prompt": p, "text": tok.decode(ids, skip_special_tokens=True).strip()}
                for p, ids in zip(
                    batch[i * CHUNK : (i + 1) * CHUNK],
                    new[i * CHUNK : (i + 1) * CHUNK],
                    strict=True,
                )
            ]
            dest = OUT / f"chunk-{chunk:05d}.jsonl.gz"
            tmp = dest.with_suffix(".tmp")
            with gzip.open(tmp, "wt", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            tmp.rename(dest)
        rate = n_tokens / (time.perf_counter() - start)
        print(f"chunks {group}: {n_tokens} tokens, {rate:.0f} tok/s", flush=True)


if __name__ == "__main__":
    main()
