"""The jobs module's errors: each one a stable code a program can match on."""

from __future__ import annotations

from infrakit.errors import AppError, InfrastructureError, NotFoundError

__all__ = ["JobCancelledError", "JobFailedError", "JobNotFoundError", "JobStorageError"]


class JobNotFoundError(NotFoundError):
    """No job has that id (it never existed, or retention removed it)."""

    code = "JOB_NOT_FOUND"
    default_message = "No job has that id."


class JobFailedError(AppError):
    """`wait_for` on a job that failed for good; `details` has its last error."""

    code = "JOB_FAILED"
    status_code = 500
    default_message = "The job failed."


class JobCancelledError(AppError):
    """`wait_for` on a job that was cancelled (by a call or by its parent's failure)."""

    code = "JOB_CANCELLED"
    status_code = 409
    default_message = "The job was cancelled."
    expose_message = True


class JobStorageError(InfrastructureError):
    """The job store could not do what was asked (its backend failed or is closed)."""

    code = "JOB_STORAGE_ERROR"
    default_message = "The job store failed."
