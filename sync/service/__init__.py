"""The daemon around the run: schedule, source watch, HTTP, health, metrics, history."""
