//! One stage of a build: `FROM` picks the base (an image of the store, an
//! earlier stage, or `scratch`), then each instruction changes the stage's
//! state (its config, ARGs in scope, SHELL) and makes the next image.
//! Variables are replaced as [`super::vars`] says.

use std::collections::HashMap;

use anyhow::{bail, Context as _};
use oci_spec::image::Config;
use parse_dockerfile::{Instruction, JsonOrStringArray};

use super::cache::{Cache, Key};
use super::context::Context;
use super::dockerfile::{self, StageText};
use super::vars::{declared, expand};
use super::Report;
use crate::image::commit::{commit, docker_fields, Commit, Committed, Fields};
use crate::image::{changes, digest, tags, time, Image, Quiet, Store};

pub struct Builder<'a> {
    pub store: &'a Store,
    pub ctx: &'a Context,
    pub cache: &'a mut Cache,
    pub report: &'a dyn Report,
    pub build_args: &'a [(String, String)],
    pub global_args: Vec<(String, String)>,
    /// Finished stages, by index and by name, for `COPY --from`.
    pub done: HashMap<String, Committed>,
    pub step: usize,
    pub total: usize,
}

/// What a stage carries from one step to the next.
pub struct State {
    pub image: Option<Image>,
    pub config: Config,
    pub args: Vec<(String, String)>,
    pub shell: Vec<String>,
    author: Option<String>,
    /// Healthcheck, OnBuild, Shell: kept beside the OCI config.
    pub fields: Fields,
}

impl State {
    /// ENV and ARG values, for `$NAME` (ENV wins over ARG).
    pub fn vars(&self) -> HashMap<String, String> {
        let mut v: HashMap<String, String> = self.args.iter().cloned().collect();
        for e in self.config.env().clone().unwrap_or_default() {
            if let Some((k, val)) = e.split_once('=') {
                v.insert(k.into(), val.into());
            }
        }
        v
    }

    pub fn expand(&self, s: &str) -> String {
        expand(s, &self.vars())
    }
}

impl Builder<'_> {
    pub fn stage(&mut self, s: &StageText) -> anyhow::Result<Committed> {
        self.announce(&s.from_text);
        let from = expand(&s.from, &self.global_args.iter().cloned().collect());
        let image = self.base(&from)?;
        let mut fields = match &image {
            Some(i) => docker_fields(self.store, i)?,
            None => Fields::new(),
        };
        // A base's ONBUILD triggers run now, in this build, and are not
        // passed on to the image made from it.
        let triggers = fields.remove("OnBuild");
        let shell = match fields.get("Shell") {
            Some(v) => serde_json::from_value(v.clone())?,
            None => vec!["/bin/sh".into(), "-c".into()],
        };
        let mut st = State {
            config: with_default_path(
                image
                    .as_ref()
                    .and_then(|i| i.config.config().clone())
                    .unwrap_or_default(),
            ),
            image,
            args: Vec::new(),
            shell,
            author: None,
            fields,
        };
        self.say_image(st.image.as_ref().map(|i| i.id()));
        if let Some(t) = triggers {
            self.triggers(&mut st, serde_json::from_value(t)?)?;
        }
        for (text, ins) in &s.steps {
            self.announce(text);
            self.step(&mut st, text, ins)?;
        }
        match &st.image {
            Some(i) => Ok(Committed {
                id: i.id().clone(),
                manifest: i.manifest_digest.clone(),
            }),
            None => bail!("stage FROM scratch has no steps: there is no image to make"),
        }
    }

    /// Run the base's ONBUILD instructions, each parsed as a line of
    /// this Dockerfile would be.
    fn triggers(&mut self, st: &mut State, triggers: Vec<String>) -> anyhow::Result<()> {
        let n = triggers.len();
        self.report.line(&format!(
            "# Executing {n} build trigger{}",
            if n == 1 { "" } else { "s" }
        ));
        for t in triggers {
            let text = format!("FROM scratch\n{t}\n");
            let tree = dockerfile::parse(&text).with_context(|| format!("ONBUILD {t}"))?;
            let parsed = dockerfile::stages(&text, &tree)?;
            for (line, ins) in &parsed.stages[0].steps {
                self.step(st, line, ins)?;
            }
        }
        Ok(())
    }

    fn base(&self, from: &str) -> anyhow::Result<Option<Image>> {
        if from == "scratch" {
            return Ok(None);
        }
        if let Some(c) = self.done.get(&from.to_ascii_lowercase()) {
            return Ok(Some(tags::resolve(self.store, digest::hex(&c.id))?));
        }
        let img = tags::resolve(self.store, from)
            .with_context(|| format!("FROM {from}: not a stage and not an image in the store"))?;
        Ok(Some(img))
    }

    fn announce(&mut self, text: &str) {
        self.step += 1;
        self.report
            .line(&format!("Step {}/{} : {text}", self.step, self.total));
    }

    fn say_image(&self, id: Option<&oci_spec::image::Digest>) {
        if let Some(id) = id {
            self.report
                .line(&format!(" ---> {}", &digest::hex(id)[..12]));
        }
    }

    fn step(&mut self, st: &mut State, text: &str, ins: &Instruction) -> anyhow::Result<()> {
        let nop = |what: String| format!("/bin/sh -c #(nop) {what}");
        let created_by;
        match ins {
            Instruction::Run(r) => {
                dockerfile::flags(&r.options, &[], "RUN")?;
                let argv = dockerfile::command(&r.arguments, &st.shell);
                return self.commit_run(st, text, argv);
            }
            Instruction::Copy(c) => {
                let args = super::copy::Args::new(&c.options, &c.src, &c.dest, false);
                return super::copy::step(self, st, text, args);
            }
            Instruction::Add(a) => {
                let args = super::copy::Args::new(&a.options, &a.src, &a.dest, true);
                return super::copy::step(self, st, text, args);
            }
            Instruction::Healthcheck(h) => {
                let check = super::health::healthcheck(h, &st.shell)?;
                created_by = nop(format!("HEALTHCHECK {}", check["Test"]));
                st.fields.insert("Healthcheck".into(), check);
            }
            Instruction::Onbuild(_) => {
                let trigger = text
                    .split_once(char::is_whitespace)
                    .map_or("", |(_, t)| t.trim());
                let mut all: Vec<String> = match st.fields.get("OnBuild") {
                    Some(v) => serde_json::from_value(v.clone())?,
                    None => Vec::new(),
                };
                all.push(trigger.to_string());
                st.fields
                    .insert("OnBuild".into(), serde_json::to_value(all)?);
                created_by = nop(format!("ONBUILD {trigger}"));
            }
            Instruction::From(_) => unreachable!("FROM starts a stage"),
            Instruction::Arg(a) => {
                let declared = declared(
                    &[a.arguments.value.to_string()],
                    self.build_args,
                    &self.global_args,
                )?;
                st.args.extend(declared);
                created_by = nop(format!("ARG {}", a.arguments.value));
            }
            Instruction::Shell(s) => {
                st.shell = s.arguments.iter().map(|w| w.value.to_string()).collect();
                st.fields
                    .insert("Shell".into(), serde_json::to_value(&st.shell)?);
                created_by = nop(format!("SHELL {:?}", st.shell));
            }
            Instruction::Maintainer(m) => {
                st.author = Some(st.expand(&m.name.value));
                created_by = nop(format!("MAINTAINER {}", m.name.value));
            }
            Instruction::Cmd(c) => {
                let argv = dockerfile::command(&c.arguments, &st.shell);
                created_by = nop(format!("CMD {}", json(&argv)));
                st.config.set_cmd(Some(argv));
            }
            Instruction::Entrypoint(e) => {
                let argv = dockerfile::command(&e.arguments, &st.shell);
                created_by = nop(format!("ENTRYPOINT {}", json(&argv)));
                st.config.set_entrypoint(Some(argv));
                // A new ENTRYPOINT drops the CMD inherited from the base.
                if st
                    .image
                    .as_ref()
                    .and_then(|i| i.config.config().clone())
                    .and_then(|c| c.cmd().clone())
                    == st.config.cmd().clone()
                {
                    st.config.set_cmd(None);
                }
            }
            Instruction::Volume(v) => {
                let vols: Vec<String> = match &v.arguments {
                    JsonOrStringArray::Json(a) => {
                        a.value.iter().map(|w| st.expand(&w.value)).collect()
                    }
                    JsonOrStringArray::String(a) => a.iter().map(|w| st.expand(&w.value)).collect(),
                };
                created_by = nop(format!("VOLUME {}", json(&vols)));
                let mut all = st.config.volumes().clone().unwrap_or_default();
                all.extend(vols);
                all.sort();
                all.dedup();
                st.config.set_volumes(Some(all));
            }
            Instruction::Expose(e) => {
                let words: Vec<String> = e.arguments.iter().map(|w| st.expand(&w.value)).collect();
                created_by = nop(format!("EXPOSE {}", words.join(" ")));
                changes::apply(&mut st.config, &format!("EXPOSE {}", words.join(" ")))?;
            }
            Instruction::Env(e) => created_by = self.change(st, "ENV", &e.arguments.value)?,
            Instruction::Label(l) => created_by = self.change(st, "LABEL", &l.arguments.value)?,
            Instruction::User(u) => created_by = self.change(st, "USER", &u.arguments.value)?,
            Instruction::Stopsignal(s) => {
                created_by = self.change(st, "STOPSIGNAL", &s.arguments.value)?
            }
            Instruction::Workdir(w) => {
                let dir = st.expand(&w.arguments.value);
                let dir = match (dir.starts_with('/'), st.config.working_dir()) {
                    (true, _) | (false, None) => std::path::Path::new("/").join(&dir),
                    (false, Some(cur)) => std::path::Path::new(cur).join(&dir),
                };
                return super::workdir::step(self, st, text, &dir);
            }
            _ => bail!("{text}: an instruction this builder does not know"),
        }
        self.commit_config(st, text, created_by)
    }

    /// A config change in `--change` syntax, after variable expansion.
    fn change(&self, st: &mut State, word: &str, args: &str) -> anyhow::Result<String> {
        let line = format!("{word} {}", st.expand(args));
        changes::apply(&mut st.config, &line).with_context(|| line.clone())?;
        Ok(format!("/bin/sh -c #(nop) {line}"))
    }

    fn key<'k>(&self, st: &'k State, text: &'k str, files: Option<&'k str>) -> Key<'k> {
        Key {
            parent: st.image.as_ref().map(|i| i.id()),
            text,
            args: &st.args,
            files,
        }
    }

    /// The cached image of this step, announced, if there is one.
    pub fn cached(&self, st: &mut State, text: &str, files: Option<&str>) -> bool {
        let Some(img) = self.cache.get(self.store, &self.key(st, text, files)) else {
            return false;
        };
        self.report.line(" ---> Using cache");
        self.say_image(Some(img.id()));
        st.config = img.config.config().clone().unwrap_or_default();
        st.image = Some(img);
        true
    }

    fn commit_config(
        &mut self,
        st: &mut State,
        text: &str,
        created_by: String,
    ) -> anyhow::Result<()> {
        if self.cached(st, text, None) {
            return Ok(());
        }
        self.commit(st, text, None, created_by, None)
    }

    fn commit_run(&mut self, st: &mut State, text: &str, argv: Vec<String>) -> anyhow::Result<()> {
        if self.cached(st, text, None) {
            return Ok(());
        }
        let env = run_env(st);
        let done = super::run::run(self.store, st, &argv, env).with_context(|| text.to_string())?;
        let created_by = match argv.first().map(String::as_str) {
            Some(_) if argv.len() > 2 && argv[..2] == st.shell[..] => argv.join(" "),
            _ => json(&argv),
        };
        self.commit(st, text, Some(&done.upper), created_by, None)
    }

    /// Make the step's image and remember it in the cache.
    pub fn commit(
        &mut self,
        st: &mut State,
        text: &str,
        upper: Option<&std::path::Path>,
        created_by: String,
        files: Option<&str>,
    ) -> anyhow::Result<()> {
        let made = commit(
            self.store,
            &Commit {
                parent: st.image.as_ref(),
                upper,
                config: Some(st.config.clone()),
                changes: &[],
                created_by,
                comment: None,
                author: st.author.clone(),
                docker_fields: Some(st.fields.clone()),
                created: time::now(),
                tags: &[],
            },
            &Quiet,
        )?;
        self.cache.put(&self.key(st, text, files), &made.id)?;
        let img = tags::resolve(self.store, digest::hex(&made.id))?;
        self.say_image(Some(img.id()));
        st.image = Some(img);
        Ok(())
    }

    pub fn stage_image(&self, name: &str) -> anyhow::Result<Image> {
        match self.done.get(&name.to_ascii_lowercase()) {
            Some(c) => tags::resolve(self.store, digest::hex(&c.id)),
            None => tags::resolve(self.store, name).with_context(|| {
                format!("--from={name}: no stage of that name, and no such image")
            }),
        }
    }
}

/// The environment of a RUN: the image's ENV, then the build args (which
/// a RUN sees, but the image does not keep).
fn run_env(st: &State) -> Vec<String> {
    let mut env = st.config.env().clone().unwrap_or_default();
    for (k, v) in &st.args {
        if !env.iter().any(|e| e.starts_with(&format!("{k}="))) {
            env.push(format!("{k}={v}"));
        }
    }
    env
}

/// A base without PATH gets the default one, as Docker and buildah give it
/// at FROM, so RUN finds its programs and the image keeps it.
fn with_default_path(mut config: Config) -> Config {
    let mut env = config.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
        config.set_env(Some(env));
    }
    config
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn json(argv: &[String]) -> String {
    serde_json::to_string(argv).unwrap_or_default()
}
