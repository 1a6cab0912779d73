-- Refresh token rotation with a grace for one lost answer (docs/auth.md "Refresh token
-- rotation"). A rotated token keeps its successor sealed (AES-256-GCM under a key derived from
-- the rotated token itself, which is stored only as a digest) so that a retry within the grace
-- gets the same successor. Cleared by the next rotation in the family.
ALTER TABLE auth_refresh_tokens ADD COLUMN successor_sealed TEXT;
