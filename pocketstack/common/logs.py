"""Logging of every pocketstack process: a rotated file per role under
``<state_dir>/logs/`` and warnings on stderr, with a client's HTTP mistakes folded into one
line (never a traceback). Used by the CLI's commands and by the processes they start (object
nodes, lab hosts), so it lives apart from the CLI."""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler

from pocketstack.common.config import Config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


def log_file_handler(conf: Config, name: str) -> RotatingFileHandler:
    """A handler writing ``<state_dir>/logs/<name>.log``, rotated when it would pass
    ``conf.log_max_bytes``: ``<name>.log.1`` is the newest older file, at most
    ``conf.log_backup_count`` of them are kept (either option 0: never rotated)."""
    logs = conf.path("logs")
    logs.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = RotatingFileHandler(
        logs / f"{name}.log",
        maxBytes=conf.log_max_bytes,
        backupCount=conf.log_backup_count,
        encoding="utf-8",
    )
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


def _second_response(exc: BaseException) -> bool:
    """Whether ``exc`` is h11 refusing a second response to one request.

    uvicorn answers 400 on its own when a client breaks HTTP after its request line and
    headers were accepted (a malformed chunk, say) while the app is already handling that
    request; whichever of the two answers comes second then fails this way (logged by uvicorn
    as "Exception in ASGI application", or by asyncio as a fatal ``data_received`` error).
    The app itself never starts two responses (uvicorn refuses that before h11 sees it).
    """
    import h11

    text = str(exc)
    return (
        isinstance(exc, h11.LocalProtocolError)
        and text.startswith("can't handle event type Response when role=SERVER")
        and "state=SEND_RESPONSE" not in text
    )


class OneLineClientErrors(logging.Filter):
    """Log what a client got wrong as one line, never a traceback.

    - uvicorn warns about unparsable requests (a bad request line, an invalid header, a
      malformed body framing); some versions attach the parser's exception: its type and
      text are appended to the line instead.
    - A client breaking HTTP mid-request makes h11 refuse a second response (see
      ``_second_response``): an ERROR with a traceback from uvicorn or asyncio, which
      becomes one WARNING line.

    Any other error (an exception escaping the app: a 500) keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Fold a client error's exception into its message; keep every record."""
        if not record.exc_info:
            return True
        exc = record.exc_info[1]
        if record.levelno >= logging.ERROR:
            if exc is None or not _second_response(exc):
                return True
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            text = "A client broke HTTP mid-request; its connection was closed."
        else:
            text = record.getMessage()
        if exc is not None:
            text = f"{text} ({type(exc).__name__}: {exc})"
        record.msg, record.args = text, None
        record.exc_info, record.exc_text = None, None
        return True


#: Loggers whose client-caused records ``OneLineClientErrors`` folds into one line.
CLIENT_ERROR_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi", "asyncio")


def configure_uvicorn_logging() -> None:
    """Send uvicorn's records through pocketstack's handlers (log file, stderr), a client's
    mistake as one line (``OneLineClientErrors``); uvicorn itself installs no handler (the
    server is built with ``log_config=None``) and logs no access lines."""
    for name in CLIENT_ERROR_LOGGERS:
        logger = logging.getLogger(name)
        if name.startswith("uvicorn"):
            logger.handlers.clear()
            logger.propagate = True
        if not any(isinstance(f, OneLineClientErrors) for f in logger.filters):
            logger.addFilter(OneLineClientErrors())


def setup_logging(conf: Config, role: str) -> None:
    """Log to ``<state_dir>/logs/<role>.log`` (rotated, see ``log_file_handler``) and to
    stderr (warnings and above); uvicorn's records go the same way."""
    root = logging.getLogger()
    root.setLevel(conf.log_level.upper())
    root.addHandler(log_file_handler(conf, role))
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING)
    err.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(err)
    configure_uvicorn_logging()
