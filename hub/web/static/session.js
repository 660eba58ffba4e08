// Who is signed in (GET /api/v1/me) and what their role lets the console show. The API enforces the
// same rules; the console only leaves out what would fail anyway.

export const session = {me: null};

const RULES = {
  'alarms.read': ['admin', 'operator', 'viewer'],
  'alarms.act': ['admin', 'operator'],
  'tech.read': ['admin', 'technician', 'viewer'],
  'tech.write': ['admin', 'technician'],
  'reports.read': ['admin', 'operator', 'technician', 'viewer'],
};

export function can(what) {
  const role = session.me?.role;
  return Boolean(role && RULES[what]?.includes(role));
}

/** The center whose queue this user watches (none: every center, for an admin or viewer without one). */
export function centerId() {
  return session.me?.center_id ?? null;
}
