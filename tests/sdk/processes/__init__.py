"""Real process models driving real clients: forks, pools, web server workers."""
