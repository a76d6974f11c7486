"""The platform kernel: what every service, built-in or third-party, plugs into."""
