"""Entry point: `python evaluate.py ckpt=<path> episodes=20 video=true` (see conf/evaluate.yaml)."""

from litrl.evaluate import main

if __name__ == "__main__":
    main()
