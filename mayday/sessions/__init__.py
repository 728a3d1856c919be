"""What a live session holds besides its routing: the advisor's drawing, co-pilot consent,
screen-sharing pause and the audit log, with stores that share them between processes."""
