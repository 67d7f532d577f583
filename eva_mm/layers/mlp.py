"""Feed-forward networks: the GELU MLP of EVA-01 and the SwiGLU of EVA-02."""
import torch
from torch import nn


class Mlp(nn.Module):
    """fc1 -> GELU -> (sub-LN) -> fc2 on (..., C) tokens."""

    def __init__(self, dim: int, hidden: int, sub_ln: bool = False, norm_eps: float = 1e-6,
                 drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(hidden, eps=norm_eps) if sub_ln else nn.Identity()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.norm(self.act(self.fc1(x)))))


class SwiGLU(nn.Module):
    """SiLU(fc1_g x) * fc1_x x -> (sub-LN) -> fc2 on (..., C) tokens (EVA-02)."""

    def __init__(self, dim: int, hidden: int, sub_ln: bool = False, norm_eps: float = 1e-6,
                 drop: float = 0.) -> None:
        super().__init__()
        self.fc1_g = nn.Linear(dim, hidden)
        self.fc1_x = nn.Linear(dim, hidden)
        self.act = nn.SiLU()
        self.norm = nn.LayerNorm(hidden, eps=norm_eps) if sub_ln else nn.Identity()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.norm(self.act(self.fc1_g(x)) * self.fc1_x(x))))
