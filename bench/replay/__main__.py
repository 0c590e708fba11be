"""`python -m bench.replay`: the replay benchmark's command line (bench.replay.cli)."""

from bench.replay.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
