"""Every error mailgate raises on purpose.

::

    MailgateError
    ├── ConfigError            bad mailgate.toml, unknown check id, bad parameter
    │   └── DirectoryError     unreadable or malformed directory CSV
    └── MessageError           a message that cannot be linted (SPEC §4 error codes)
        ├── UnparseableError   code "unparseable"
        ├── TooLargeError      code "too-large"  (size, header, part count, decoded bytes)
        ├── TooDeepError       code "too-deep"   (MIME nesting)
        └── LintTimeoutError   code "timeout"    (per-message time budget)

Anything else escaping the engine is a bug; the CLI and relay still turn it
into a report or a ``451`` rather than a traceback.
"""

from __future__ import annotations


class MailgateError(Exception):
    """Base of every deliberate mailgate error."""


class ConfigError(MailgateError):
    """The configuration is invalid; the message names the key at fault."""


class DirectoryError(ConfigError):
    """The directory CSV cannot be used."""


class MessageError(MailgateError):
    code = "unparseable"
    zh = "邮件无法解析"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnparseableError(MessageError):
    code = "unparseable"
    zh = "邮件无法解析"


class TooLargeError(MessageError):
    code = "too-large"
    zh = "邮件超出大小限制"


class TooDeepError(MessageError):
    code = "too-deep"
    zh = "邮件 MIME 嵌套层级过深"


class LintTimeoutError(MessageError):
    code = "timeout"
    zh = "邮件检查超时"
