"""Concepts you can steer: for each concept, find a feature of the shipped SAEs whose steering
turns neutral prompts' continuations to that concept, without wrecking fluency.

The keyword lists and prompts below were written before any run and are not tuned afterwards.
For each concept:

1. Choice (`sw.find_steering_features`, on its own six neutral screening prompts, never the
   evaluation prompts): candidates from `sw.features_for_words` at layers 9, 15 and 21 (what
   fires on the keywords, what the decoder direction writes), each added at a few strengths
   while the model continues the screening prompts, 24 new tokens; the feature and strength
   with the most on-topic continuations whose mean perplexity ratio stays ≤ 2 is kept.
2. Evaluation on the ten NEUTRAL_PROMPTS: greedy, 40 new tokens, `add` at every position. A
   prompt counts when its continuation contains a keyword (whole words, case-insensitive);
   the unsteered baseline's count is reported beside it. Perplexity is of the steered
   continuation under the unsteered model, against the baseline continuation's.

    .venv/bin/python benchmarks/bench_concepts.py            # all concepts, table on stdout
    .venv/bin/python benchmarks/bench_concepts.py --concepts food --candidates 4
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

import saewidgets as sw
from saewidgets.analysis.steering.screen import words_in

SITES = ("blocks.9.hook_resid_post", "blocks.15.hook_resid_post", "blocks.21.hook_resid_post")
STRENGTHS = (0.3, 0.45, 0.6)  # × ‖x‖ at each position (no statistics needed)
NEW_TOKENS = 40
CALIBRATION_TOKENS = 24

CONCEPTS = {
    "food": (
        "food foods eat eating ate cook cooking cooked meal meals dinner lunch breakfast "
        "bread meat soup fruit fruits vegetable vegetables cheese recipe recipes delicious "
        "taste tasty kitchen rice sugar butter chicken beef pork fish egg eggs cake dish "
        "dishes sauce flavor flavour restaurant hungry salad pasta pizza chocolate coffee tea"
    ),
    "places": (
        "city cities town towns village country countries capital river rivers mountain "
        "mountains island islands coast sea ocean lake valley street streets region "
        "province nation border france paris london england italy rome europe america "
        "china japan india africa germany spain travel traveled travelled journey map"
    ),
    "programming": (
        "code coding program programs programming programmer function functions variable "
        "variables python java javascript software computer computers data file files "
        "string class classes bug bugs compile compiler script scripts algorithm "
        "algorithms debug api library libraries syntax loop loops array arrays database"
    ),
    "weather": (
        "weather rain raining rained rainy snow snowing storm storms wind windy sunny "
        "sun cloud clouds cloudy temperature cold hot warm thunder lightning fog foggy "
        "forecast humid humidity climate freezing degrees celsius fahrenheit breeze"
    ),
}

# Added in a second round (written before their first run, like the four above), after the
# first round met the bar for food and places only.
CONCEPTS["animals"] = (
    "animal animals dog dogs cat cats horse horses bird birds cow cows sheep pig pigs lion "
    "lions tiger tigers bear bears wolf wolves fox foxes rabbit rabbits mouse mice elephant "
    "elephants monkey monkeys deer duck ducks pet pets zoo wildlife puppy puppies kitten kittens"
)
CONCEPTS["music"] = (
    "music musical musician musicians song songs sing singing sang singer singers band bands "
    "guitar piano violin drum drums melody melodies concert concerts album albums rhythm tune "
    "tunes lyrics orchestra jazz choir"
)

NEUTRAL_PROMPTS = (
    "I woke up early this morning and",
    "The meeting was about to start when",
    "She opened the letter and read that",
    "Here is something I have been thinking about:",
    "After a long week, we decided to",
    "The most interesting part of the story is",
    "My neighbour told me that",
    "When I was a child, I often",
    "The report published yesterday explains that",
    "He looked at the clock and realised",
)


def keyword_hit(text: str, keywords: set[str]) -> bool:
    return words_in(text, keywords)


def run_prompts(model, sae, feature, strength, prompts, n_tokens) -> list[sw.SteeringResult]:
    items = [] if sae is None else [sw.Intervention(sae, feature, strength, "add")]
    return [sw.steer(model, p, items, max_new_tokens=n_tokens) for p in prompts]


def evaluate_concept(model, saes, name, words, n_candidates, baseline) -> dict:
    keywords = set(words.split())
    table = sw.find_steering_features(
        model,
        saes,
        words,
        strengths=STRENGTHS,
        candidates=n_candidates,
        new_tokens=CALIBRATION_TOKENS,
    )
    best = table.iloc[0]
    if not best.fluent:
        return {"concept": name, "found": False}
    site, feature, strength = str(best.site), int(best.feature), float(best.strength)
    runs = run_prompts(model, saes[site], feature, strength, NEUTRAL_PROMPTS, NEW_TOKENS)
    ratios = [r.perplexity / b.perplexity for r, b in zip(runs, baseline, strict=True)]
    return {
        "concept": name,
        "found": True,
        "site": site,
        "feature": feature,
        "strength": strength,
        "calibration_on_topic": float(best.on_topic),
        "hits": sum(keyword_hit(r.text, keywords) for r in runs),
        "baseline_hits": sum(keyword_hit(b.text, keywords) for b in baseline),
        "perplexity_ratio_mean": round(statistics.mean(ratios), 2),
        "perplexity_ratio_max": round(max(ratios), 2),
        "examples": [r.text for r in runs[:3]],
        "runner_up": table.iloc[1:4][["site", "feature", "strength", "on_topic"]].to_dict(
            "records"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concepts", nargs="*", default=list(CONCEPTS), choices=list(CONCEPTS))
    parser.add_argument("--candidates", type=int, default=32, help="candidates per side and site")
    parser.add_argument("--out", default="benchmarks/results/concepts.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = sw.load_model()
    saes = {site: sw.load_sae("embedded", site=site) for site in SITES}
    baseline = run_prompts(model, None, 0, 0, NEUTRAL_PROMPTS, NEW_TOKENS)
    rows = [
        evaluate_concept(model, saes, name, CONCEPTS[name], args.candidates, baseline)
        for name in args.concepts
    ]
    header = "| concept | feature | strength (× ‖x‖) | on topic | baseline | perplexity ratio |"
    print(header)
    print("|---|---|---|---|---|---|")
    for r in rows:
        if not r["found"]:
            print(f"| {r['concept']} | none within the perplexity bound | | | | |")
            continue
        print(
            f"| {r['concept']} | {r['site']} #{r['feature']} | {r['strength']} | "
            f"{r['hits']}/10 | {r['baseline_hits']}/10 | "
            f"{r['perplexity_ratio_mean']} (max {r['perplexity_ratio_max']}) |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
