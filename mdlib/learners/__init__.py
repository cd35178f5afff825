"""The learners: independent Q-learning, soft Q-learning with a Distral prior, distillation and
MultiDistral V1/V2, all running one compiled episode loop over the game's transition kernel."""

from .base import Protocol, RunResult
from .distill import distill, visit_counts
from .multidistral import MultiDistral
from .policies import TablePolicy, learned_policy, play_learned
from .qlearning import QLearning
from .softq import PI0_FLOOR, distral_policy, soft_value

__all__ = ["MultiDistral", "PI0_FLOOR", "Protocol", "QLearning", "RunResult", "TablePolicy", "distill",
           "distral_policy", "learned_policy", "play_learned", "soft_value", "visit_counts"]
