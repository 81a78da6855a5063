import pytest
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from hyra_lightning.batch import distributed_padding, eval_dataloader, unrepeated_rows
from hyra_lightning.data import UnpaddedDistributedSampler


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize(("size", "num_replicas", "batch_size"), [(3, 2, 1), (3, 2, 4), (7, 3, 2), (1, 4, 2)])
def test_distributed_padding_finds_exactly_the_repeated_rows(
    size: int, num_replicas: int, batch_size: int, shuffle: bool
) -> None:
    data = torch.arange(size)
    seen: list[int] = []
    for rank in range(num_replicas):
        sampler = DistributedSampler(data, num_replicas=num_replicas, rank=rank, shuffle=shuffle)
        loader = DataLoader(data, batch_size=batch_size, sampler=sampler)
        padding = distributed_padding(loader)
        assert padding is not None and padding.known
        assert padding.duplicates == sampler.total_size - size
        for batch_idx, batch in enumerate(loader):
            seen += batch[: padding.kept(batch_idx, len(batch))].tolist()
    assert sorted(seen) == list(range(size))  # every sample once, no repeat


def test_distributed_padding_none_or_unknown() -> None:
    data = torch.arange(4)
    assert distributed_padding(DataLoader(data)) is None
    even = DistributedSampler(data, num_replicas=2, rank=0)
    assert distributed_padding(DataLoader(data, sampler=even)) is None
    unpadded = UnpaddedDistributedSampler(torch.arange(3), num_replicas=2, rank=0)
    assert distributed_padding(DataLoader(torch.arange(3), sampler=unpadded)) is None

    class Shifted(DistributedSampler):  # an order the helper cannot follow
        def __iter__(self):
            return iter(reversed(list(super().__iter__())))

    padding = distributed_padding(
        DataLoader(torch.arange(3), sampler=Shifted(torch.arange(3), num_replicas=2, rank=0))
    )
    assert padding is not None and not padding.known and padding.duplicates == 1
    assert "UnpaddedDistributedSampler" in padding.warning("validation")
    with pytest.raises(ValueError, match="known"):
        padding.kept(0, 1)
    shifted = DataLoader(torch.arange(3), sampler=Shifted(torch.arange(3), num_replicas=2, rank=1))
    kept, unknown = unrepeated_rows(shifted, 0, 2)
    assert kept == 2 and unknown is not None and not unknown.known
    plain = DistributedSampler(torch.arange(3), num_replicas=2, rank=1, shuffle=False)
    assert unrepeated_rows(DataLoader(torch.arange(3), batch_size=2, sampler=plain), 0, 2) == (1, None)
    assert unrepeated_rows(DataLoader(torch.arange(3)), 0, 2) == (2, None)


def test_eval_dataloader_picks_the_loader() -> None:
    a, b = DataLoader(torch.arange(2)), DataLoader(torch.arange(3))
    assert eval_dataloader(a) is a
    assert eval_dataloader([a, b], 1) is b
    assert eval_dataloader({"x": a, "y": b}, 1) is b
    assert eval_dataloader([a], 3) is None
    assert eval_dataloader(None) is None
