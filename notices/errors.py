"""The error of the notice services: the action conflicts with the notice's state (a 409 in the API,
a message on the pages)."""


class NoticeConflict(Exception):
    def __init__(self, message: str, code: str = "notice_conflict") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
