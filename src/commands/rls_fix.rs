//! `credits rls-fix`: what the API roles can really do to the app's credits
//! tables (`--check`, `rls::check`), and the least-privilege fix (V010,
//! applied on demand: `rls::fix`).

use anyhow::Result;

use crate::cli::{Format, RlsFixArgs};
use crate::db::Db;
use crate::exit::{Code, fail};
use crate::output::note;
use crate::rls::{self, Roles, Setup, fix};

pub fn run(db: &mut Db, args: &RlsFixArgs, format: Format) -> Result<Code> {
    let roles = Roles {
        user: &args.user_role,
        anon: &args.anon_role,
        webhook: &args.webhook_role,
    };
    let setup = Setup::read(db, &roles)?;
    let missing = setup.missing(&roles);
    if !missing.is_empty() {
        note(format!(
            "This database is not Supabase-shaped: {}. Probes for a missing role are reported \
             as untested. Name the roles your API uses with --user-role, --anon-role and \
             --webhook-role.",
            missing.join(", ")
        ));
    }
    if args.check {
        return rls::check(db, &roles, &setup, format);
    }
    if !missing.is_empty() {
        return Err(fail(
            Code::Contract,
            format!(
                "rls-fix cannot write its grants and policies here: {}. Name the roles your API \
                 uses with --user-role, --anon-role and --webhook-role, and provide auth.uid() \
                 or auth.jwt() (the signed-in user's id; Supabase has them). Nothing was written.",
                missing.join(", ")
            ),
        ));
    }
    fix::run(db, &args.write, &roles, &setup, format)
}
