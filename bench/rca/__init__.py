"""Root-cause ranking measured on real fault injection (the Nezha OnlineBoutique dev set):
loaders (nezha), the replay of one fault through the hourly scoring and the ranking
(replay), the peers ranked on the same events (peers) and AC@k / Avg@5 (scoring)."""
