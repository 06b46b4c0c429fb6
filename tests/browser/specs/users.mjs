// The people global-setup.mjs creates through the operator CLI.
export const USERS = {
  admin: { email: 'admin@acme.test', password: 'admin-password-0123', role: 'admin' },
  developer: { email: 'dev@acme.test', password: 'developer-password-0123', role: 'developer' },
  member: { email: 'member@acme.test', password: 'member-password-0123', role: 'member' },
  secops: { email: 'secops@acme.test', password: 'secops-password-0123', role: 'developer' },
};
