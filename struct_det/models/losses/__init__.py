from .dice_iou_loss import DiceIoULoss
from .heatmap_mse_loss import HeatmapMSELoss
from .norm_in_norm_loss import NormInNormLoss, norm_in_norm_loss
from .pairwise_ranking_loss import PairwiseRankingLoss, pairwise_ranking_loss
from .pixel_loss_utils import PixelLoss, masked_mean
from .plcc_loss import PLCCLoss, plcc_loss
from .score_loss_utils import ScoreLoss
from .score_mse_loss import ScoreMSELoss

__all__ = [
    'NormInNormLoss', 'norm_in_norm_loss', 'PLCCLoss', 'plcc_loss',
    'ScoreMSELoss', 'PairwiseRankingLoss', 'pairwise_ranking_loss',
    'ScoreLoss', 'HeatmapMSELoss', 'DiceIoULoss', 'PixelLoss', 'masked_mean'
]
