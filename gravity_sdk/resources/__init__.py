"""Resource classes behind ``client.auth``, ``client.auth.api_keys`` and ``client.users``."""

from .api_keys import ApiKeys, AsyncApiKeys
from .auth import AsyncAuth, Auth
from .users import AsyncUsers, Users

__all__ = ["ApiKeys", "AsyncApiKeys", "AsyncAuth", "AsyncUsers", "Auth", "Users"]
