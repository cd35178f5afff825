#!/usr/bin/env bash
# Recompute the sweep tables the chapters read from mdlib/data/sweeps/ (too much work for a book
# build). Each is one `python -m mdlib sweep` command; rerunning resumes an interrupted table, and
# tests/test_data.py recomputes rows drawn at random from every table and requires them equal.
#   bash scripts/make-data.sh              every table
#   bash scripts/make-data.sh diagnosis    one group (diagnosis, landscape, explorer, landscape-both,
#                                          held-out, runs)
# Extra environment: WORKERS (default: all cores), SCHEDULER (a Dask scheduler address).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
sweep() { .venv/bin/python -m mdlib sweep ${WORKERS:+--workers "$WORKERS"} ${SCHEDULER:+--scheduler "$SCHEDULER"} "$@"; }
group=${1:-all}

# The Distral settings of the landscape: alpha 0 to 1 by 0.1; beta on a 1-2-3-5 log scale from
# 0.1 to 100, which contains the report's 0.5 and the book's larger settings.
ALPHAS=0:1:11
BETAS=0.1,0.2,0.3,0.5,1,2,3,5,10,20,30,50,100

if [[ $group == all || $group == diagnosis ]]; then
  # Where MultiDistral's gap to the optimum comes from, at the report's setting (alpha 0.7, beta 0.5)
  # and at the book's better one: the exact alternation alone and with both agents, and the
  # sampled learner as the book runs it and with each fix (optimistic start, all games teaching
  # Q, ten times the E-step games), each beside its frozen-pi0 control; 20 seeds.
  for beta in 0.5 100; do
    sweep --alphas 0.7 --betas $beta --seeds 20 --versions v1,v2 --methods exact_alone,exact_both \
      --out mdlib/data/sweeps/diagnosis-exact-beta$beta.csv
    sweep --alphas 0.7 --betas $beta --seeds 20 --versions v1,v2 --q-init 0,wander --distill on,off \
      --rollouts-learn off,on --out mdlib/data/sweeps/diagnosis-beta$beta.csv
    sweep --alphas 0.7 --betas $beta --seeds 20 --versions v1,v2 --q-init wander --distill on,off \
      --e-games 750 --out mdlib/data/sweeps/diagnosis-budget-beta$beta.csv
  done
fi
if [[ $group == all || $group == landscape ]]; then
  # The alpha x beta landscape of the exact alternation for one agent alone (seconds per cell).
  sweep --alphas $ALPHAS --betas $BETAS --versions v1,v2 --methods exact_alone --out mdlib/data/sweeps/landscape-exact-alone.csv
  # The sampled learner, V1 and V2, and its frozen-pi0 control over the same landscape, 10 paired
  # seeds; one table per version (2860 runs each: about 25 min on 2 idle cores, by
  # scripts/sweep_throughput.py; 31 and 43 min here while other work ran).
  for version in v1 v2; do
    sweep --alphas $ALPHAS --betas $BETAS --seeds 10 --versions $version --distill on,off \
      --out mdlib/data/sweeps/landscape-$version.csv
  done
fi
if [[ $group == all || $group == explorer ]]; then
  # The grid of the V1 and V2 chapters' explorers and of the transfer chapter's heatmaps: the
  # sampled learner with and without distillation (5 seeds; about 15 min on 2 cores) and the exact
  # two-agent alternation of V1 and of V2 (about 20 min each on one idle core).
  EXPLORER_ALPHAS=0,0.3,0.5,0.7,1
  EXPLORER_BETAS=0.5,1,2,5,10,30,100
  sweep --alphas $EXPLORER_ALPHAS --betas $EXPLORER_BETAS --seeds 5 --versions v1,v2 --distill on,off \
    --out mdlib/data/sweeps/explorer-sampled.csv
  sweep --alphas $EXPLORER_ALPHAS --betas $EXPLORER_BETAS --versions v1 --methods exact_both \
    --out mdlib/data/sweeps/explorer-exact-both.csv
  sweep --alphas $EXPLORER_ALPHAS --betas $EXPLORER_BETAS --versions v2 --methods exact_both \
    --out mdlib/data/sweeps/explorer-exact-both-v2.csv
fi
if [[ $group == all || $group == landscape-both ]]; then
  # The exact two-agent alternation over the same landscape (the longest table: hours on 2 cores).
  sweep --alphas $ALPHAS --betas $BETAS --versions v1,v2 --methods exact_both --out mdlib/data/sweeps/landscape-exact-both.csv
fi
if [[ $group == all || $group == held-out ]]; then
  # Held-out maps (mdlib.transfer): pi0 distilled on four report maps (all five for the new maps
  # swapped_roles and same_direction), then the held-out map learned from scratch with it as a fixed
  # prior, with a uniform prior and with Q-learning for as many games; V1 and V2, alpha 0.7 with
  # beta 0.5 (the report's) and 100, 20 paired seeds, and the exact counterparts, agents alone and
  # both in the game. Not resumable (the table is written when every row is in): about 30 min on 2
  # cores, most of it the exact two-agent alternation.
  .venv/bin/python -m mdlib held-out ${WORKERS:+--workers "$WORKERS"} --out mdlib/data/sweeps/held-out.csv
fi
if [[ $group == all || $group == runs ]]; then
  # The learning runs chapters 3 to 7 and 9 read from mdlib/data/runs/ (mdlib.runstore): each chapter
  # executed with MDLIB_RUNS=record, which empties its store and writes every run_many it makes
  # (about 15 min on 2 cores). The chapters are rewritten too, with the same outputs.
  MDLIB_RUNS=record bash scripts/execute-notebooks.sh notebooks/03_q_learning.ipynb notebooks/04_multidistral_v1.ipynb \
    notebooks/05_multidistral_v2.ipynb notebooks/06_symmetric_tasks.ipynb notebooks/07_replication_notes.ipynb \
    notebooks/09_try_it_yourself.ipynb
fi
