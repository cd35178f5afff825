"""The learners: independent Q-learning, soft Q-learning with a Distral prior, distillation and
MultiDistral V1/V2, all running one compiled episode loop over the game's transition kernel."""

from .base import Diagnostics, RunResult, Setup
from .distill import agent_overlap, average_policy, distill, policy_entropy, visit_counts
from .multidistral import MultiDistral, mstep_counts
from .policies import TablePolicy, learned_policy, play_learned, typical_game
from .qlearning import QLearning
from .softq import PI0_FLOOR, distral_policy, log_prior, soft_value, wander_value

__all__ = [
    "Diagnostics",
    "MultiDistral",
    "PI0_FLOOR",
    "QLearning",
    "RunResult",
    "Setup",
    "TablePolicy",
    "agent_overlap",
    "average_policy",
    "distill",
    "distral_policy",
    "learned_policy",
    "log_prior",
    "mstep_counts",
    "play_learned",
    "typical_game",
    "policy_entropy",
    "soft_value",
    "visit_counts",
    "wander_value",
]
