"""The node's Task work for the clinician app: a patient's outstanding Tasks, "my tasks", and
a status, description or note change recorded as one update (:mod:`bedside.device.tasks`).

A part of :class:`bedside.device.node.Node` (a mixin, like :mod:`~bedside.device.node_ward`);
each method is a use of the device (it keeps it awake) and runs under the node's lock.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from bedside.device import tasks
from bedside.device.session import Session
from bedside.device.tasks import TaskChange, TaskView
from bedside.device.writes import Recorded

__all__ = ["TaskSide"]


class TaskSide:
    """Tasks, as the clinician app asks for them."""

    def _use(self, *, background: bool = False) -> AbstractContextManager[Session]:
        raise NotImplementedError  # Node's

    def tasks(self, patient: str, *, all_states: bool = False) -> list[TaskView]:
        """The patient's outstanding Tasks (or all of them), most urgent first."""
        with self._use() as s:
            return tasks.outstanding(s, patient, all_states=all_states)

    def my_tasks(self) -> list[TaskView]:
        """Outstanding Tasks the user owns or nobody owns, for the patients the user reaches."""
        with self._use() as s:
            return tasks.mine(s)

    def update_task(self, task_id: str, change: TaskChange) -> Recorded:
        """Record ``change`` to the Task: saved on the device at once, sent at the next sync."""
        with self._use() as s:
            return tasks.update(s, task_id, change)
