"""Staff downloads of a request's documents, served only once the malware scan said clean."""
