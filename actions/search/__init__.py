"""The parts of the job search that are not Rasa actions themselves.

The actions (actions/job_search.py) and the form validation (actions/search_form.py) are
built from these: which slots make up a search (:mod:`.slots`, from labels.yml and
domain.yml), how typed slot values are cleaned (:mod:`.slot_values`), how a search request
is built from them (:mod:`.query`), the words of the answer (:mod:`.result_text`, from
labels.yml) and the shared job provider (:mod:`.provider_access`).
"""
