"""mdlib: the corridor game, its exact solution and the MultiDistral learners behind the book."""

from .env import CorridorEnv
from .exact_distral import DistralSolution, solve_distral
from .learners import MultiDistral, QLearning
from .solver import solve_joint
from .tasks import TASK_SETS, Task, load_task, load_task_set

__all__ = [
    "CorridorEnv",
    "DistralSolution",
    "MultiDistral",
    "QLearning",
    "TASK_SETS",
    "Task",
    "load_task",
    "load_task_set",
    "solve_distral",
    "solve_joint",
]
__version__ = "0.2.0"
