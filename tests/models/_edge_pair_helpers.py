"""The first batch of a model's default edge-pair mini-batch loader and what its loss sees."""
from pyagc.sampling import EdgePairNeighborLoader


def first_edge_pair_batch(model, graph, **loss_kwargs):
    """``(loader, batch, loss, (z, pos, neg))``: the first batch of ``model``'s default
    mini-batch loader (64 roots, fan-out 5, seeded), which must be an edge-pair loader drawing
    32 edges, the value of ``model.loss_batch(batch, **loss_kwargs)`` and the arguments that
    call handed ``model.recon_loss``."""
    loader = model.train_loader(graph, mini_batch=True, batch_size=64, fan_out=5, seed=0)
    assert isinstance(loader, EdgePairNeighborLoader) and loader.edges_per_batch == 32
    batch = next(iter(loader))
    seen = []
    recon = model.recon_loss
    model.recon_loss = lambda z, pos, neg: seen.append((z, pos, neg)) or recon(z, pos, neg)
    try:
        loss = model.loss_batch(batch, **loss_kwargs)
    finally:
        del model.recon_loss
    return loader, batch, loss, seen[0]
