"""The two-host drill (issue 14; `make drill-2hosts`): the README's scale-out story, proven on one machine.

Two network namespaces stand in for two hosts (`network`: a bridge in the root namespace, a veth pair
and an address of 10.231.0.0/24 per host, no default route, so nothing can leave the machine). The
shared PostgreSQL and Redis, which listen on 127.0.0.1 only, are reached through TCP forwarders on
the bridge's address (`forward`: socat, or a small Python forwarder); the WeChat sandbox listens on
that address itself. Each host runs a web process and a Celery worker of `scripts/run_stack.sh`'s
queues (`hosts`); the second also runs beat. `seed` writes the population and a 50,000-recipient
template campaign; `drill` runs the scenario — one host, then both, then `kill -9` of the first
host's processes while the second finishes — and `report` measures it from the sandbox's request
counts (messaging/sandbox/rates.py) and the deliveries.

Everything here needs root (namespaces, veth pairs); `scripts/drill_2hosts.sh` is the entry point and
removes the namespaces even when the drill fails.
"""
