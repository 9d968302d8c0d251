"""`aiops demo`: the main job end to end on the demo world (`run`), and what it prints about
each capability (one module per section)."""
