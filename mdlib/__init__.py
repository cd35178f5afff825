"""mdlib: the corridor game, its exact solution and the MultiDistral learners behind the book."""

from .env import CorridorEnv
from .learners import MultiDistral, QLearning
from .solver import solve_joint
from .tasks import TASK_SETS, Task, load_task, load_task_set

__all__ = ["CorridorEnv", "MultiDistral", "QLearning", "TASK_SETS", "Task", "load_task", "load_task_set",
           "solve_joint"]
__version__ = "0.1.0"
