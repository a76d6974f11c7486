"""The users service: profiles, roles and permissions, admin listing and search."""
