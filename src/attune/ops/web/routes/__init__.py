"""One ``APIRouter`` per resource; handlers are thin and named verb_noun."""
