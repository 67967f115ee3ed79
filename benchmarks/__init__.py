"""`make bench`: measurements printed side by side, as ratios where there is a baseline."""
