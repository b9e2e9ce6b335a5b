"""Storage errors.

StorageError
├── BlobNotFound      no blob with that content id here
├── IntegrityError    bytes do not hash to the content id they came under
├── CidError          a string is not a CIDv1 sha2-256 content id
└── CodecError        bytes are not a valid safetensors document of the expected shape
"""

from dain.errors import DainError


class StorageError(DainError):
    pass


class BlobNotFound(StorageError):
    def __init__(self, cid: str) -> None:
        super().__init__(f"No blob with content id {cid} is stored here.")
        self.cid = cid


class IntegrityError(StorageError):
    pass


class CidError(StorageError):
    pass


class CodecError(StorageError):
    pass
