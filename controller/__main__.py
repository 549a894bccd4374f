from controller.cli import entrypoint

entrypoint()
