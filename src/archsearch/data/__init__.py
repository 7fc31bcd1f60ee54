"""archsearch.data: datasets held as tensors, and batched tensor augmentations."""

from archsearch.data.augment import Augment, cutout, random_crop, random_hflip
from archsearch.data.datasets import DATASETS, list_datasets, load_task
from archsearch.data.task import Task

__all__ = [
    "Task",
    "load_task",
    "list_datasets",
    "DATASETS",
    "Augment",
    "random_crop",
    "random_hflip",
    "cutout",
]
