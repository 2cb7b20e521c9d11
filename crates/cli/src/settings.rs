//! One configuration schema from three places: flags win over `HIATUS_…` environment
//! variables, which win over a TOML file (`--config FILE` / `HIATUS_CONFIG`), which wins over
//! the defaults. The file's keys are the long flag names (`data-dir` or `data_dir`); options of
//! `serve` and `worker` go in `[serve]` and `[worker]` tables. `hiatus config check` validates
//! the result and prints it with its sources, secrets redacted.

use anyhow::{Context, Result, bail};
use clap::parser::ValueSource;
use clap::{ArgMatches, Command};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

/// What a file contributed: the arguments to add, and the option ids they set (for
/// `config check`'s sources).
#[derive(Debug, Default)]
pub struct FromFile {
    pub global: Vec<OsString>,
    pub sub: Vec<OsString>,
    pub keys: Vec<String>,
    /// Every entry of the `[serve]` / `[worker]` tables, secrets redacted (for display).
    pub sections: Vec<(String, String)>,
}

fn arg_for(cmd: &Command, key: &str) -> Option<(String, bool)> {
    let id = key.replace('-', "_");
    cmd.get_arguments()
        .find(|a| a.get_id().as_str() == id && a.get_long().is_some() && !a.is_hide_set())
        .map(|a| {
            let takes_value = a.get_num_args().is_some_and(|n| n.takes_values());
            (a.get_long().unwrap_or_default().to_string(), takes_value)
        })
}

fn scalar(key: &str, v: &toml::Value) -> Result<Option<String>> {
    Ok(match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => b.then(String::new),
        _ => bail!("{key}: expected a string, number or true/false"),
    })
}

/// Turns a file's entries into arguments for the options that neither a flag nor the
/// environment set. Unknown keys are errors, so a typo cannot be silently ignored.
fn collect(
    table: &toml::Table,
    cmd: &Command,
    matches: &ArgMatches,
    prefix: &str,
    out: &mut Vec<OsString>,
    keys: &mut Vec<String>,
) -> Result<()> {
    for (k, v) in table {
        if v.is_table() {
            continue;
        }
        let Some((long, takes_value)) = arg_for(cmd, k) else {
            bail!(
                "unknown setting {prefix}{k} (the keys are the long flag names; see `hiatus {}--help`)",
                if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{} ", prefix.trim_end_matches('.'))
                }
            );
        };
        let id = k.replace('-', "_");
        let from_default = matches!(
            matches.value_source(&id),
            None | Some(ValueSource::DefaultValue)
        );
        if !from_default {
            continue;
        }
        let Some(value) = scalar(&format!("{prefix}{k}"), v)? else {
            continue;
        };
        if takes_value {
            out.push(format!("--{long}={value}").into());
        } else {
            out.push(format!("--{long}").into());
        }
        keys.push(format!("{prefix}{id}"));
    }
    Ok(())
}

/// Reads the file and lists what it adds for this command line (`sub`: the subcommand's name
/// and matches, whose `[name]` table applies).
pub fn from_file(path: &Path, cmd: &Command, matches: &ArgMatches) -> Result<FromFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut out = FromFile::default();
    collect(&table, cmd, matches, "", &mut out.global, &mut out.keys)?;
    for (name, v) in &table {
        let Some(sub_table) = v.as_table() else {
            continue;
        };
        let Some(sub_cmd) = cmd.find_subcommand(name) else {
            bail!("unknown section [{name}] in {}", path.display());
        };
        for (k, v) in sub_table {
            let shown = if k.contains("token") || k.contains("password") || k.contains("key") {
                "(set, redacted)".to_string()
            } else {
                match v {
                    toml::Value::String(s) => redact_url(s),
                    other => other.to_string(),
                }
            };
            out.sections
                .push((format!("{name}.{}", k.replace('-', "_")), shown));
        }
        if let Some((used, sub_matches)) = matches.subcommand()
            && used == name
        {
            collect(
                sub_table,
                sub_cmd,
                sub_matches,
                &format!("{name}."),
                &mut out.sub,
                &mut out.keys,
            )?;
        } else {
            // Check the other sections' keys too, so a typo shows whatever the command.
            for k in sub_table.keys() {
                if arg_for(sub_cmd, k).is_none() {
                    bail!("unknown setting {name}.{k} in {}", path.display());
                }
            }
        }
    }
    Ok(out)
}

/// Where each effective option came from.
pub fn sources(
    cmd: &Command,
    matches: &ArgMatches,
    from_file: &[String],
) -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str().to_string();
        if a.is_hide_set() || a.get_long().is_none() || id == "help" || id == "version" {
            continue;
        }
        let src = if from_file.contains(&id) {
            "file"
        } else {
            match matches.value_source(&id) {
                Some(ValueSource::CommandLine) => "flag",
                Some(ValueSource::EnvVariable) => "environment",
                _ => "default",
            }
        };
        out.insert(id, src);
    }
    out
}

/// `scheme://user:secret@host` → `scheme://user:***@host`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((creds, host)) => match creds.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.example.com/hiatus"),
            "postgres://app:***@db.example.com/hiatus"
        );
        assert_eq!(
            redact_url("smtps://me:p%40ss@mail.example.com"),
            "smtps://me:***@mail.example.com"
        );
        assert_eq!(redact_url("smtp://127.0.0.1:25"), "smtp://127.0.0.1:25");
        assert_eq!(redact_url("none"), "none");
    }
}
