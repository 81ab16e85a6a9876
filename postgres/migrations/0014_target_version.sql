-- Issue 17: the emit path at one round trip. Each process caches what an
-- emit's audience is read from (every partner's role, every data link's
-- targeting columns), tagged with the target version read in the same
-- statement. An emit's insert transaction first checks that the version is
-- unchanged (labhooks_check_targets) and otherwise stores nothing, so an
-- emit never uses an audience older than a change committed before its
-- transaction began, in any process.
--
-- One row; starts at 1 (0 means "no check" to the stores' callers).
CREATE TABLE target_version (
	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	version bigint NOT NULL
);
INSERT INTO target_version (version) VALUES (1);

CREATE FUNCTION labhooks_bump_targets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE target_version SET version = version + 1;
	RETURN NULL;
END $$;

-- Triggers catch every write, by any process, present and future: the
-- API, auto-disable, erasure, deleting a partner (whose links go by
-- cascade), psql. Inserts and deletes bump once per statement; updates
-- once per row that changes a column the audience reads (partners.role;
-- datalinks.partner_id, event_names, enabled, kind, ordered), so a key
-- rotation or a URL change, which write role or enabled unchanged, leave
-- every cache in place.
CREATE TRIGGER partners_targets AFTER INSERT OR DELETE OR TRUNCATE ON partners
	FOR EACH STATEMENT EXECUTE FUNCTION labhooks_bump_targets();
CREATE TRIGGER partners_targets_update AFTER UPDATE OF role ON partners
	FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role) EXECUTE FUNCTION labhooks_bump_targets();
CREATE TRIGGER datalinks_targets AFTER INSERT OR DELETE OR TRUNCATE ON datalinks
	FOR EACH STATEMENT EXECUTE FUNCTION labhooks_bump_targets();
CREATE TRIGGER datalinks_targets_update AFTER UPDATE OF partner_id, event_names, enabled, kind, ordered ON datalinks
	FOR EACH ROW WHEN (OLD.partner_id IS DISTINCT FROM NEW.partner_id OR OLD.event_names IS DISTINCT FROM NEW.event_names
		OR OLD.enabled IS DISTINCT FROM NEW.enabled OR OLD.kind IS DISTINCT FROM NEW.kind OR OLD.ordered IS DISTINCT FROM NEW.ordered)
	EXECUTE FUNCTION labhooks_bump_targets();

-- The first statement of every emit's transaction that picked its
-- deliveries from a cached audience: it fails the transaction, with
-- SQLSTATE LH001, when the version is no longer the audience's.
CREATE FUNCTION labhooks_check_targets(v bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT version FROM target_version) IS DISTINCT FROM v THEN
		RAISE EXCEPTION 'the partners or data links changed since the audience was read' USING ERRCODE = 'LH001';
	END IF;
END $$;
