"""Drawing boards, policies and games with matplotlib (notebooks, reports)."""

from alphago_jax.viz.board import draw_board, game_boards, show_game, star_points

__all__ = ["draw_board", "game_boards", "show_game", "star_points"]
