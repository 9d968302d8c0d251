"""Where metrics, traces and logs come from: HTTP clients and their file-backed twins."""
