"""Run by tests/test_training.py under torchrun: a short stage-1 run; each rank reports a weight checksum."""

import json
import sys
from pathlib import Path

import torch.distributed as dist

from training.trainer import TrainConfig, train
from vita.settings import Settings

out, init = Path(sys.argv[1]), sys.argv[2]
result = train(Settings().open_catalog(), TrainConfig(stage=1, out_dir=out / "run", init=init, epochs=1, batch_size=8,
                                                max_steps_per_epoch=2, device="cpu"))
assert result.model is not None
checksum = sum(float(p.detach().double().sum()) for p in result.model.audio.parameters())
(out / f"rank{dist.get_rank()}.json").write_text(json.dumps({"checksum": checksum, "epochs": len(result.history)}))
dist.barrier()
dist.destroy_process_group()
