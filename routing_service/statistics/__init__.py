"""Supervisor statistics: backlog, response times, targets met, breaches, satisfaction."""
