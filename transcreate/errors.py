"""Every error transcreate raises on purpose.

TranscreateError
 ├── SetupError              the machine lacks a font, raqm, tesseract…: names what to install
 ├── CampaignError           the spreadsheet cannot be read at all (file, what is wrong)
 ├── TemplateError           an instruction template is missing or broken
 ├── TypesettingError        the local editor cannot set the copy
 │    └── MissingGlyphError  a character none of the fonts can draw (never a tofu box)
 ├── EditError               one job's edit failed (variant and locale in the message)
 │    ├── RetryableEditError  worth another attempt: timeouts, 429, 5xx
 │    ├── PermanentEditError  retrying cannot help: bad input, refusals
 │    └── DeadlineError       the run's deadline passed before the edit (or its retry) began
 └── StorageError            a destination cannot be read or written

A bad *row* is not an exception: the reader reports it as a `RowProblem` and carries on.
"""

from __future__ import annotations


class TranscreateError(Exception):
    """Base class: catch this to handle anything transcreate refuses."""


class SetupError(TranscreateError):
    """The machine is missing a system component; the message says how to install it."""


class CampaignError(TranscreateError):
    """The campaign file as a whole cannot be used."""


class TemplateError(TranscreateError):
    """An instruction template is missing, unsafe or does not render."""


class TypesettingError(TranscreateError):
    """The local editor cannot lay out the copy."""


class MissingGlyphError(TypesettingError):
    """A character that none of the fonts for the locale can draw."""


class EditError(TranscreateError):
    """One edit job failed."""


class RetryableEditError(EditError):
    """A transient failure: the same call may succeed later (after ``retry_after`` seconds, when
    the server said so)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class MalformedAnswerError(RetryableEditError):
    """The service answered "success" with something that is not an answer (not an image, not
    its own JSON): its fault, not the request's, so the same call is made again (a result link is
    fetched again, not paid for again: see ``editors.journal``)."""


class PermanentEditError(EditError):
    """A failure that another attempt cannot fix."""


class DeadlineError(EditError):
    """The run's deadline passed before this edit, or its next try, could begin: nothing was
    paid for it, and running the campaign again makes it."""


class StorageError(TranscreateError):
    """A destination cannot be reached, read or written."""
