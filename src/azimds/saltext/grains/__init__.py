"""Salt grains modules of the azimds Salt extension (Salt skips files whose name starts with _)."""
