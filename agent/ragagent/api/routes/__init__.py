"""One ``APIRouter`` per resource; ``main.create_app`` includes them all."""
