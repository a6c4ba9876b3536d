"""One run: prepare the source side, narrow to what changed, apply, passwords, the run lock."""
