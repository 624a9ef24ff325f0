"""Which server leads: the one that runs checks, incidents and notifications when
several servers share one PostgreSQL database (election.py)."""
