"""Stand-ins for the services itarch talks to, running on loopback only."""
