"""`make chaos`: drills that break a real stack on this machine and measure what was lost, duplicated,
and how long recovery took (docs/reliability.md). One module per drill; `stack` starts and breaks the
processes, `storm` posts encrypted callbacks, `population` makes the drill's account and audience,
`report` prints the figures. Run by `manage.py chaos`."""
