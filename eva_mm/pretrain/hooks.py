"""Hooks of the pre-training demos."""
from mmengine.hooks import Hook

from ..registry import HOOKS


@HOOKS.register_module()
class ValidateBeforeTrainHook(Hook):
    """Run the validation loop once before the first training iteration, so a run's logs show
    the metric of the initial model (e.g. the masked-patch cosine similarity before MIM)."""
    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        if runner.val_loop is not None and runner.iter == 0:
            runner.val_loop.run()


@HOOKS.register_module()
class ExportStudentHook(Hook):
    """After training, save the MIM student (``backbone.*`` of :class:`EVAMIM`) alone to
    ``{work_dir}/{filename}`` as a plain tensor state dict, the file downstream EVAViTs
    initialise from (``init_cfg=dict(type='Pretrained', checkpoint=...)``).

    mmengine's own checkpoints also hold the teacher, the MIM head, the optimizer and the
    message hub; this file holds the student alone."""
    priority = 'LOW'

    def __init__(self, filename: str = 'eva_mim_student.pth') -> None:
        self.filename = filename

    def after_train(self, runner) -> None:
        import os.path as osp

        from mmengine.dist import is_main_process

        from ..models.checkpoint import save_checkpoint_atomic
        model = runner.model
        while not hasattr(model, 'backbone') and hasattr(model, 'module'):
            model = model.module
        if not hasattr(model, 'backbone'):
            raise TypeError('ExportStudentHook needs a model with a backbone (eva_mm.EVAMIM)')
        if is_main_process():
            sd = {f'backbone.{k}': v.detach().float().cpu()
                  for k, v in model.backbone.state_dict().items()}
            path = osp.join(runner.work_dir, self.filename)
            save_checkpoint_atomic(dict(state_dict=sd), path)
            runner.logger.info(f'MIM student saved to {path}')
